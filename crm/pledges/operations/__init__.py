"""What changes pledges and their progress reports, one module per sub-area (as Zulip's
`zerver/actions/`):

- `lifecycle`: making a pledge, its details, its status (the one table of legal moves,
  `TRANSITIONS`), confirming it, moving it to a newer version;
- `report_state`: what the reports say so far (the open draft, corrections, full verification),
  shared by the lifecycle and the reports;
- `progress_reports`: starting, saving, submitting, accepting and correcting a progress report;
- `public_form`: the pledge signed on the public page;
- `signatories`: the signatory's doubts and the representative account confirming creates.

Each change is flushed and audited; the caller commits once. Import the
function from its module: `from crm.pledges.operations import lifecycle`.
"""
