"""Lineage Portal settings. Every knob is read from the environment.

Unset, the portal runs embedded: a SQLite file under ./var and Celery tasks executed eagerly,
so a newcomer needs nothing but Python. In production DATABASE_URL points at PostgreSQL and
CELERY_BROKER_URL at Redis.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("PORTAL_DEBUG", False)
SECRET_KEY = os.environ.get("PORTAL_SECRET_KEY") or (
    # Only for the embedded developer setup; production refuses to start without a key.
    "insecure-dev-key-set-PORTAL_SECRET_KEY-in-production"
)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("PORTAL_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.accounts",
    "portal.audit",
    "portal.approvals",
    "portal.governance",
    "portal.evidence",
    "portal.reports",
    "portal.web",
    "portal.demo",
    "lineage",
    "portal.monitoring",
    "portal.incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.lib.security.SecurityHeadersMiddleware",
    "portal.lib.text.NeutraliseInvisibleMiddleware",
    "portal.lib.security.BodySizeLimitMiddleware",
    "portal.lib.security.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.audit.context.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.web.middleware.ServiceAccountPagesMiddleware",
    "portal.web.middleware.SecondFactorEnrolmentMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.metrics.requests.IngestMetricsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.web.context.navigation",
                "portal.web.context.signer",
            ],
            # One way to show things on every page: ``|when`` for date-times, ``|pretty_json`` for payloads.
            "builtins": ["portal.web.templatetags.portal_format"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        conn_max_age=env_int("PORTAL_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL plus a busy timeout lets the embedded server take concurrent requests without "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("PORTAL_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
# Serve straight from the app and package folders when collectstatic has not run (embedded setup).
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # One parser guard for every API body: deep nesting is a 400 naming the body (portal/lib/jsonbody.py).
    "DEFAULT_PARSER_CLASSES": [
        "portal.lib.jsonbody.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Every answer is redacted for its reader: other teams' node ids become "a dataset of another team".
    "DEFAULT_RENDERER_CLASSES": [
        "lineage.redaction.RedactingJSONRenderer",
        "lineage.redaction.RedactingBrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "portal.lib.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "portal.lib.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "portal.lib.pagination.BoundedPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lineage Portal API",
    "DESCRIPTION": "OpenLineage ingestion (Marquez-compatible), lineage queries, commits, model versions "
    "and deployments.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served by the portal itself: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Operations grouped by resource (the path's first segment after /api/v1: releases, nodes, audit...), not
    # all in one "v1" group.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "ENUM_NAME_OVERRIDES": {"ClassificationTagEnum": "lineage.models.Tag",
                            "DocumentTypeEnum": "portal.evidence.models.DocumentType",
                            "ReleaseStateEnum": "portal.approvals.models.Release.State",
                            "MaterialChangeTriggerEnum": "portal.approvals.materiality.TRIGGERS",
                            "MaterialChangeRuleEnum": "portal.approvals.materiality.RULE_NAMES",
                            "ReleaseDiffElementEnum": "portal.approvals.materiality.ELEMENTS"},
}

# Celery: without a broker, tasks run in-process so the embedded setup needs no Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Several portals (or test runs) on one Redis keep apart by queue name and key prefix.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
if os.environ.get("CELERY_KEY_PREFIX"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["CELERY_KEY_PREFIX"]}
CELERY_TASK_EAGER_PROPAGATES = True

# Django's cache: the release diff keeps its comparisons there (portal/approvals/diff.py, keyed exactly by what
# they depend on). Redis when PORTAL_CACHE_URL names one (shared by every process), else each process's memory.
if os.environ.get("PORTAL_CACHE_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["PORTAL_CACHE_URL"],
                          "KEY_PREFIX": os.environ.get("CELERY_KEY_PREFIX", "portal")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "portal"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# Ingestion limits: a body over the size limit is a 413, a batch over the count limit a 400. No request body
# of any kind may exceed DATA_UPLOAD_MAX_MEMORY_SIZE (413 before any view runs).
LINEAGE_MAX_EVENT_BYTES = env_int("PORTAL_MAX_EVENT_BYTES", 2 * 1024 * 1024)
LINEAGE_MAX_BATCH_BYTES = env_int("PORTAL_MAX_BATCH_BYTES", 32 * 1024 * 1024)
LINEAGE_MAX_BATCH_EVENTS = env_int("PORTAL_MAX_BATCH_EVENTS", 5000)
# PostgreSQL: a set-based write of at least this many rows goes through COPY into a temporary staging table
# (portal/lib/sql.py); fewer rows go in one VALUES statement. Either path applies the same rules.
PORTAL_SQL_COPY_MIN_ROWS = env_int("PORTAL_SQL_COPY_MIN_ROWS", 20)
DATA_UPLOAD_MAX_MEMORY_SIZE = LINEAGE_MAX_BATCH_BYTES
# Single events (POST /api/v1/lineage) that one process serves at the same time are applied together in one
# transaction, each request answered with its own outcome after the commit (lineage/intake.py; groups form
# under gunicorn's gthread workers). At most GROUP_MAX events per group; a group's leader waits for requests
# already arriving in its process (read, parsed) at most GROUP_WAIT_MS, and not at all when none are.
LINEAGE_INGEST_GROUP = env_bool("PORTAL_INGEST_GROUP", True)
LINEAGE_INGEST_GROUP_MAX = env_int("PORTAL_INGEST_GROUP_MAX", 100)
LINEAGE_INGEST_GROUP_WAIT_MS = env_int("PORTAL_INGEST_GROUP_WAIT_MS", 20)
# Deferred application (docs/lineage-ingest.md): a single event's request stores the raw event and its claims and
# answers; the graph is applied by the ``lineage.apply_pending`` task (queue ``ingest``), APPLY_BATCH events per
# transaction, enqueued at most once per DEBOUNCE_MS while one waits, and swept by beat every 30 s. Without a
# broker (Celery eager) it is applied right after the request's commit. Off: applied in the request (group commit).
LINEAGE_INGEST_DEFER = env_bool("PORTAL_INGEST_DEFER", True)
LINEAGE_APPLY_BATCH = env_int("PORTAL_APPLY_BATCH", 200)
LINEAGE_APPLY_DEBOUNCE_MS = env_int("PORTAL_APPLY_DEBOUNCE_MS", 2000)
LINEAGE_INGEST_QUEUE = os.environ.get("PORTAL_INGEST_QUEUE", "ingest")
CELERY_TASK_ROUTES = {"lineage.apply_pending": {"queue": LINEAGE_INGEST_QUEUE}}
# Event times: further ahead than the clock skew is refused (400 on eventTime); older than the horizon (days,
# 0 = no horizon) is accepted with a warning.
LINEAGE_MAX_FUTURE_SECONDS = env_int("PORTAL_EVENT_MAX_FUTURE_SECONDS", 600)
LINEAGE_EVENT_HORIZON_DAYS = env_int("PORTAL_EVENT_HORIZON_DAYS", 0)
# Graph queries: depth and result bounds per request.
# The most results one API page answers (?limit=); the bound is in the OpenAPI schema.
PORTAL_API_MAX_PAGE_SIZE = env_int("PORTAL_API_MAX_PAGE_SIZE", 500)
# Nesting depth of any JSON the portal parses from a request (API bodies, JSON form fields, uploads).
PORTAL_JSON_MAX_DEPTH = env_int("PORTAL_JSON_MAX_DEPTH", 64)
LINEAGE_MAX_DEPTH = env_int("PORTAL_MAX_DEPTH", 50)
LINEAGE_MAX_NODES = env_int("PORTAL_MAX_NODES", 5000)
# A run marked de-identifying stops these sensitive tags only when an approved de-identification determination
# (HIPAA §164.514(b): safe harbor or expert determination) is attached to it (lineage/stops.py); other tags stop at
# the mark alone. Comma-separated tags; "*" every sensitive tag; "" none (the mark alone stops every tag).
LINEAGE_DEID_EVIDENCE_TAGS = [t.strip().upper() for t in os.environ.get("PORTAL_DEID_EVIDENCE_TAGS", "PHI").split(",")
                              if t.strip()]
# A report's scope may cover far more than one interactive walk.
PORTAL_REPORT_MAX_NODES = env_int("PORTAL_REPORT_MAX_NODES", 250_000)
PORTAL_VERSION = "0.2.0"
# Reports: the organisation named on covers and in file names, and the confidentiality marking of every page.
PORTAL_ORGANISATION = os.environ.get("PORTAL_ORGANISATION", "Example Organisation")
PORTAL_REPORT_MARKING = os.environ.get("PORTAL_REPORT_MARKING", "CONFIDENTIAL: prepared for audit")
# A running report whose worker stops sending progress for this long is taken over by another worker.
PORTAL_REPORT_STALE_SECONDS = env_int("PORTAL_REPORT_STALE_SECONDS", 120)
PORTAL_REPORT_MAX_ATTEMPTS = env_int("PORTAL_REPORT_MAX_ATTEMPTS", 3)
# Evidence documents (DPIAs, validation reports…): upload limit, and default retention in years by document type.
# A retention date given on upload can lengthen the default, never shorten it.
PORTAL_EVIDENCE_MAX_BYTES = env_int("PORTAL_EVIDENCE_MAX_BYTES", 25 * 1024 * 1024)
PORTAL_EVIDENCE_RETENTION_DEFAULT_YEARS = env_int("PORTAL_EVIDENCE_RETENTION_DEFAULT_YEARS", 6)
PORTAL_EVIDENCE_RETENTION_YEARS = {
    # HIPAA 45 CFR 164.316(b)(2)(i): six years from creation or from the date last in effect, whichever is later.
    "policy": 6, "risk_analysis": 6, "deid_determination": 6, "oversight_training": 6,
    # EU AI Act Art. 18(1): technical documentation and QMS documentation, ten years after placing on the market.
    "annex_iv": 10, "qms_procedure": 10, "instructions_for_use": 10,
}
# Nobody may lock a document longer than this many years (by type; the default for the others); only compliance
# officers and admins may lengthen a lock beyond the type's default at all. Each user's stored evidence is capped.
PORTAL_EVIDENCE_RETENTION_MAX_DEFAULT_YEARS = env_int("PORTAL_EVIDENCE_RETENTION_MAX_DEFAULT_YEARS", 30)
PORTAL_EVIDENCE_RETENTION_MAX_YEARS: dict[str, int] = {}
PORTAL_EVIDENCE_QUOTA_BYTES = env_int("PORTAL_EVIDENCE_QUOTA_BYTES", 2 * 1024**3)
# Roles that see every namespace regardless of team ownership.
PORTAL_ORG_WIDE_ROLES = ("admin", "auditor", "compliance_officer")
# Rows each dashboard panel lists (its card counts them all and links to the whole list).
PORTAL_DASHBOARD_PANEL_ROWS = env_int("PORTAL_DASHBOARD_PANEL_ROWS", 10)
# Rows per page of those whole lists ("500 of 1234", then the next page).
PORTAL_DASHBOARD_LIST_ROWS = env_int("PORTAL_DASHBOARD_LIST_ROWS", 500)

# Audit trail: checkpoints are signed with an Ed25519 key and also appended to a file outside the database.
PORTAL_AUDIT_KEY = os.environ.get("PORTAL_AUDIT_KEY", str(VAR_DIR / "audit_ed25519.pem"))
PORTAL_AUDIT_AUTOGENERATE_KEY = env_bool("PORTAL_AUDIT_AUTOGENERATE_KEY", True)
# By default one folder per database, so a developer switching DATABASE_URL does not check one database's
# chain against another's checkpoints. Production sets it to storage the database host cannot rewrite.
_DB_SLUG = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(DATABASES["default"]["NAME"])).name) or "default"
PORTAL_AUDIT_CHECKPOINT_DIR = os.environ.get("PORTAL_AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "checkpoints" / _DB_SLUG))
# Who gives audit entries their place and signs a checkpoint over each batch: "service" (`manage.py
# audit_sequencer` runs; docker-compose sets it and runs service `sequencer`) or "inline" (the writer itself, the
# checkpoint right after its commit: the default, for the demo, tests and anything without a sequencer).
# Every committed entry is under an outside checkpoint within PORTAL_AUDIT_LATENCY seconds.
# PORTAL_AUDIT_WITNESSES: space-separated directories and http(s) URLs.
PORTAL_AUDIT_SEQUENCER = os.environ.get("PORTAL_AUDIT_SEQUENCER", "inline")
if PORTAL_AUDIT_SEQUENCER not in ("inline", "service"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("PORTAL_AUDIT_SEQUENCER must be inline or service")
PORTAL_AUDIT_LATENCY = float(os.environ.get("PORTAL_AUDIT_LATENCY", "1.0"))
PORTAL_AUDIT_WITNESSES = os.environ.get("PORTAL_AUDIT_WITNESSES", "").split()
# PORTAL_AUDIT_WITNESS_KEYS: space-separated URL=PATH, the public key (PEM) of each HTTP witness (its GET /public-key,
# fetched once and pinned): every countersignature it returns or holds must verify under it. After the witness
# rotates its key, URL=NEW.pem,OLD.pem: its old checkpoints verify under the retired key (one under a key no longer
# pinned is reported, not failed, unless it is the witness's newest).
PORTAL_AUDIT_WITNESS_KEYS = dict(item.split("=", 1) for item in os.environ.get("PORTAL_AUDIT_WITNESS_KEYS", "").split()
                                 if "=" in item)
PORTAL_TRUST_X_FORWARDED_FOR = env_bool("PORTAL_TRUST_X_FORWARDED_FOR", False)
# How many proxies in front of the portal append to X-Forwarded-For; the client is that many hops from the end.
PORTAL_TRUSTED_PROXIES = env_int("PORTAL_TRUSTED_PROXIES", 1)
CELERY_BEAT_SCHEDULE = {
    # A backstop for the sequencer service: sequences and signs whatever is pending (nothing, normally).
    "audit-sequence": {"task": "audit.sequence", "schedule": 10.0},
    "audit-verify": {"task": "audit.verify", "schedule": env_int("PORTAL_AUDIT_VERIFY_SECONDS", 3600)},
    "reports-sweep-stale": {"task": "reports.sweep_stale", "schedule": 60.0},
    # A safety net for the enqueue after each deferred event: whatever still waits is applied.
    "lineage-apply-pending": {"task": "lineage.apply_pending", "schedule": 30.0},
    "reports-posture": {"task": "reports.posture", "schedule": env_int("PORTAL_POSTURE_SECONDS", 3600)},
}

# Notifications: email through Django's backend (console unless configured), and an HMAC-signed webhook.
EMAIL_BACKEND = os.environ.get("PORTAL_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("PORTAL_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("PORTAL_EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = os.environ.get("PORTAL_FROM_EMAIL", "lineage-portal@localhost")
PORTAL_WEBHOOK_URL = os.environ.get("PORTAL_WEBHOOK_URL", "")
PORTAL_WEBHOOK_SECRET = os.environ.get("PORTAL_WEBHOOK_SECRET", "")
# Approvals: the release subject walks the whole upstream lineage; this is only a safety bound (a release whose
# walk reaches it cannot be approved). An environment no policy names is governed (needs an approved release)
# unless PORTAL_UNPOLICED_ENVIRONMENTS=open.
APPROVALS_SUBJECT_MAX_NODES = env_int("PORTAL_SUBJECT_MAX_NODES", 2_000_000)
# Where people reach the portal: links in notification emails.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
APPROVALS_UNPOLICED_ENVIRONMENTS = os.environ.get("PORTAL_UNPOLICED_ENVIRONMENTS", "governed")
if APPROVALS_UNPOLICED_ENVIRONMENTS not in ("governed", "open"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("PORTAL_UNPOLICED_ENVIRONMENTS must be 'governed' or 'open'.")
CELERY_BEAT_SCHEDULE["approvals-refresh"] = {"task": "approvals.refresh_open", "schedule": 300.0}
CELERY_BEAT_SCHEDULE["accounts-prune-login-attempts"] = {"task": "accounts.prune_login_attempts",
                                                         "schedule": 3600.0}
CELERY_BEAT_SCHEDULE["accounts-prune-reauthentications"] = {"task": "accounts.prune_reauthentications",
                                                            "schedule": 3600.0}

# Sign-in lockout: this many failed password checks within the window, for one username or from one client
# address, refuse further attempts (even with the right password) until the window has passed.
PORTAL_LOGIN_MAX_FAILURES = env_int("PORTAL_LOGIN_MAX_FAILURES", 5)
PORTAL_LOGIN_MAX_FAILURES_PER_CLIENT = env_int("PORTAL_LOGIN_MAX_FAILURES_PER_CLIENT", 20)
PORTAL_LOGIN_WINDOW_SECONDS = env_int("PORTAL_LOGIN_WINDOW_SECONDS", 15 * 60)
# Invalid API tokens: this many from one client address within the window answer 429 with Retry-After.
PORTAL_TOKEN_MAX_FAILURES = env_int("PORTAL_TOKEN_MAX_FAILURES", 20)
PORTAL_TOKEN_WINDOW_SECONDS = env_int("PORTAL_TOKEN_WINDOW_SECONDS", 5 * 60)
# ... and this many from all addresses together. Known valid tokens are never throttled (README "Sign-in").
PORTAL_TOKEN_MAX_FAILURES_GLOBAL = env_int("PORTAL_TOKEN_MAX_FAILURES_GLOBAL", 1000)
# A valid API token is remembered per process this many seconds (0: read it on every request). A token revoked,
# or a user deactivated, elsewhere is refused by every worker within this time; in the revoking process at once.
PORTAL_TOKEN_CACHE_SECONDS = env_int("PORTAL_TOKEN_CACHE_SECONDS", 5)

# Second factor (TOTP, RFC 6238): required for these roles (superusers count as admins) at sign-in and at each
# electronic signature; optional for everyone else. Every deployment with its own PORTAL_SECRET_KEY requires it
# for signers and admins unless told otherwise; the embedded demo (the development key) does not.
# Codes are accepted this many 30-second steps either side of now.
PORTAL_MFA_REQUIRED_ROLES = tuple(r.strip() for r in os.environ.get(
    "PORTAL_MFA_REQUIRED_ROLES",
    "" if SECRET_KEY.startswith("insecure-") else "approver,compliance_officer,admin").split(",") if r.strip())
PORTAL_TOTP_SKEW_STEPS = env_int("PORTAL_TOTP_SKEW_STEPS", 1)
PORTAL_TOTP_ISSUER = os.environ.get("PORTAL_TOTP_ISSUER", "Lineage Portal")

# Single sign-on with one OpenID Connect provider (README "Sign-in"). Off unless the issuer and client id are set.
# Groups in PORTAL_OIDC_GROUPS_CLAIM map to a role and to teams ("group=value,group2=value2"); a user in no
# mapped role group gets PORTAL_OIDC_DEFAULT_ROLE (empty: refused). An amr or acr listed below satisfies the
# second factor. Local passwords stay for break-glass admins and the embedded demo.
PORTAL_OIDC_ISSUER = os.environ.get("PORTAL_OIDC_ISSUER", "")
PORTAL_OIDC_CLIENT_ID = os.environ.get("PORTAL_OIDC_CLIENT_ID", "")
PORTAL_OIDC_CLIENT_SECRET = os.environ.get("PORTAL_OIDC_CLIENT_SECRET", "")
PORTAL_OIDC_SCOPES = os.environ.get("PORTAL_OIDC_SCOPES", "openid email profile")
PORTAL_OIDC_USERNAME_CLAIM = os.environ.get("PORTAL_OIDC_USERNAME_CLAIM", "preferred_username")
PORTAL_OIDC_EMAIL_CLAIM = os.environ.get("PORTAL_OIDC_EMAIL_CLAIM", "email")
PORTAL_OIDC_GROUPS_CLAIM = os.environ.get("PORTAL_OIDC_GROUPS_CLAIM", "groups")
PORTAL_OIDC_ROLE_MAP = os.environ.get("PORTAL_OIDC_ROLE_MAP", "")
PORTAL_OIDC_TEAM_MAP = os.environ.get("PORTAL_OIDC_TEAM_MAP", "")
PORTAL_OIDC_DEFAULT_ROLE = os.environ.get("PORTAL_OIDC_DEFAULT_ROLE", "viewer")
PORTAL_OIDC_MFA_AMR = os.environ.get("PORTAL_OIDC_MFA_AMR", "")
PORTAL_OIDC_MFA_ACR = os.environ.get("PORTAL_OIDC_MFA_ACR", "")
# A private CA (PEM) to verify the provider's TLS certificate with, besides the system's.
PORTAL_OIDC_CA_FILE = os.environ.get("PORTAL_OIDC_CA_FILE", "")
PORTAL_OIDC_LABEL = os.environ.get("PORTAL_OIDC_LABEL", "your organisation's sign-in")

# Browser-side protections; docs: README "Security". The CSP allows no inline script or style anywhere.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_AGE = env_int("PORTAL_SESSION_SECONDS", 12 * 3600)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (PORTAL_HTTPS is the older name of the switch).
PORTAL_BEHIND_TLS = env_bool("PORTAL_BEHIND_TLS", env_bool("PORTAL_HTTPS", False))
if PORTAL_BEHIND_TLS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("PORTAL_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load-balancer probes may speak plain HTTP
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("PORTAL_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PORTAL_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("PORTAL_HSTS_PRELOAD", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PORTAL_LOG_LEVEL", "WARNING")},
}

if not DEBUG and SECRET_KEY.startswith("insecure-") and env_bool("PORTAL_PRODUCTION", False):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("PORTAL_SECRET_KEY must be set in production.")

# /metrics (Prometheus): a scraper sends `Authorization: Bearer <PORTAL_METRICS_TOKEN>` or scrapes from one of
# PORTAL_METRICS_ALLOWED_NETWORKS (CIDRs; default loopback only). PORTAL_METRICS_QUEUES: the Celery queues whose
# depth is reported.
PORTAL_METRICS_TOKEN = os.environ.get("PORTAL_METRICS_TOKEN", "")
PORTAL_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(n.strip(), strict=False) for n in os.environ.get(
    "PORTAL_METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128").split(",") if n.strip()]
PORTAL_METRICS_QUEUES = [q.strip() for q in os.environ.get("PORTAL_METRICS_QUEUES", f"celery,{LINEAGE_INGEST_QUEUE}")
                         .split(",") if q.strip()]
# Importers (lineage/importers/, docs/integrations.md). The MLflow poll joins the beat schedule only when a
# tracking server is set; `manage.py import_mlflow` takes the same values as its defaults.
PORTAL_MLFLOW_TRACKING_URI = os.environ.get("PORTAL_MLFLOW_TRACKING_URI", "")
PORTAL_MLFLOW_REGISTRY_URI = os.environ.get("PORTAL_MLFLOW_REGISTRY_URI", "")
PORTAL_MLFLOW_EXPERIMENTS = [e.strip() for e in os.environ.get("PORTAL_MLFLOW_EXPERIMENTS", "").split(",")]
# Each poll reads runs started, ended or running this far back (e.g. 2d); empty: every run, every time.
PORTAL_MLFLOW_SINCE = os.environ.get("PORTAL_MLFLOW_SINCE", "")
PORTAL_MLFLOW_NAMESPACE = os.environ.get("PORTAL_MLFLOW_NAMESPACE", "")
PORTAL_MLFLOW_GIT_REPO = os.environ.get("PORTAL_MLFLOW_GIT_REPO", "")
if PORTAL_MLFLOW_TRACKING_URI:
    CELERY_BEAT_SCHEDULE["lineage-import-mlflow"] = {"task": "lineage.import_mlflow",
                                                     "schedule": env_int("PORTAL_MLFLOW_POLL_SECONDS", 300)}
