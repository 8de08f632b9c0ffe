"""What changes champions and their endorsements, one module per sub-area (as Zulip's
`zerver/actions/`):

- `pipeline`: entering the pipeline, the profile, moving between stages, removing;
- `endorsements`: recording, editing, verifying or rejecting, and deleting an endorsement.

Each function flushes and writes the audit trail; the caller commits once. Import the
function from its module: `from crm.champions.operations import pipeline`.
"""
