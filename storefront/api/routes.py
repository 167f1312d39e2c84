"""JSON API v1: each area's endpoints are registered on this blueprint."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1", cli_group=None)

import storefront.finance.api  # noqa: E402,F401  (registers /finance-products and /quotes)
import storefront.test_drives.api  # noqa: E402,F401  (registers /dealers/<id>/test-drive-slots)
