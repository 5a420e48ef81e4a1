"""Security controls applied to every request: response headers, request-body size limits, per-IP rate
limits. The threat model and the other controls (policy, audit, CSRF, uploads) are in docs/security.md."""
