"""What changes segments and campaigns, one module per sub-area (as Zulip's
`zerver/actions/`):

- `saved_segments`: creating, editing and deleting a segment;
- `editing`: a campaign's draft (create, edit, delete);
- `lifecycle`: the status change and the checks before sending, shared by the two below;
- `scheduling`: scheduling, back to draft, cancelling;
- `sending`: recipients and who is left out, queueing a send, starting due campaigns and
  finishing sent ones;
- `unsubscribing`: the unsubscribe link and the email preference page.

Each function flushes and writes the audit trail; the caller commits once. Import the
function from its module: `from crm.campaigns.operations import sending`.
"""
