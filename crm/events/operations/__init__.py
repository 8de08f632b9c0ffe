"""What changes events and participation, one module per sub-area (as Zulip's
`zerver/actions/`):

- `events`: creating, editing and deleting an event;
- `event_lock`: the event row held until commit, so capacity checks do not race;
- `places`: registration within capacity, invitations, the waitlist, cancelling, check-in;
- `newcomers`: people not in the CRM yet (walk-ins, public registration).

Each function flushes and writes the audit trail; the caller commits once. Import the
function from its module: `from crm.events.operations import places`.
"""
