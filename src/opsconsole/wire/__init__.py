"""The API's contract: pydantic models shared by the server, the SDK and the console.

Nothing here imports from `opsconsole.server` or `opsconsole.console`.
"""
