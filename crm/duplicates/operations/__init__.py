"""What merges duplicate records or dismisses a pair, one module per sub-area (as Zulip's
`zerver/actions/`):

- `merging`: what both merges share (fields a lead picks from, every linked table a merge
  moves, repointing link rows, the record of the merge and its audit trail);
- `contact_merge`: merging two contacts (consent, events, champions, consultation answers);
- `organization_merge`: merging two organizations (pledges);
- `dismissals`: marking a pair "not duplicates".

Operations flush but never commit; the caller commits once. Import the function from its
module: `from crm.duplicates.operations import contact_merge`.
"""
