"""`govcal web`: the small web app people reach from their email (signed action links)
and from their calendar (feeds by token). It calls the same use cases as the command
line and the forms (models/link_answers.py over models/actions.py)."""
