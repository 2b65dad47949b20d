"""The pages people use: sign-in, dashboard, inbox, item, requests, review, completion links,
reports, audit, assignments, accounts and contacts.

Every action goes through ``storage.workflow`` (the rules and the audit row live there); a page
only turns a refusal into a message on the same page. One module per area; ``router`` gathers them."""
from fastapi import APIRouter

from web.pages import admin, dashboard, items, links, reports, review, signin, tasks

router = APIRouter(include_in_schema=False)
for _module in (signin, dashboard, items, review, links, reports, tasks, admin):
    router.include_router(_module.router)
