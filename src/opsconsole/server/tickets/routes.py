"""HTTP routes for tickets."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
