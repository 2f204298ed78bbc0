"""`Authorization: Bearer <key>` on every route, yielding the caller's organisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tuneforge.serve.errors import APIError
from tuneforge.serve.keys import KeyStore

LOCAL_ORG = "local"
ADMIN_ORG = "admin"

# auto_error=False: a missing header must come back as an OpenAI 401, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False)


def require_org(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    keys: KeyStore | None = request.app.state.keys
    if keys is None:  # --no-auth: one local organisation
        return LOCAL_ORG
    if credentials is None or not credentials.credentials:
        raise APIError(
            401,
            "You didn't provide an API key. You need to provide your API key "
            "in an Authorization header using Bearer auth "
            "(i.e. Authorization: Bearer YOUR_KEY).",
            code="invalid_api_key",
        )
    org = keys.org_of(credentials.credentials)
    if org is None:
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")
    return org


def require_admin(request: Request, org: Annotated[str, Depends(require_org)]) -> str:
    if request.app.state.keys is not None and org != ADMIN_ORG:
        raise APIError(
            403,
            "This route needs a key of the 'admin' organization "
            "(tuneforge keys create --org admin).",
            code="insufficient_permissions",
        )
    return org
