"""What changes consultations, one module per sub-area (as Zulip's `zerver/actions/`):

- `consultations`: setting one up, editing and deleting it;
- `drafts`: the draft texts (recommendations) the consultation asks about, and accepting them;
- `personal_links`: the signed link that opens a person's own response;
- `responses`: answering, through a personal link or the public page;
- `public_form`: the public page's answer and the email with the personal link it sends;
- `comments`: the team's reading of the comments (themes, addressed);
- `publishing`: the next version of the standard, made from the accepted draft texts;
- `reminders`: a reminder campaign to those invited who have not answered.

Each function flushes and writes the audit trail; the caller commits once. Import the
function from its module: `from crm.consultations.operations import responses`.
"""
