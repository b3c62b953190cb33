"""The control plane: a FastAPI service built by :func:`opsconsole.server.app.create_app`."""
