"""The API's routes, one ``APIRouter`` per area; :func:`serve.app.create_app` includes them."""
