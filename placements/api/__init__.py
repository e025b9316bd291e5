"""The JSON API for student record systems and reporting (/api/v1), and the pages where
officers and administrators create and revoke its keys."""

from placements.api.key_views import admin_bp, officer_bp
from placements.api.views import bp

__all__ = ["admin_bp", "bp", "officer_bp"]
