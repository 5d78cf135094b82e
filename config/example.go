package config

// Example returns a commented configuration file listing every key with
// its default, for "mxdesk check-config --example" and the docs.
//
// Keys whose default is derived from another key are commented out, so a
// file started from this example keeps following domain, data_dir and
// portal.listen until the operator pins them. Such lines are written
// "#key = value" (no space after '#') to tell them from prose; the tests
// rely on that to check the example against Default.
func Example() string {
	return exampleTOML
}

const exampleTOML = `# mxdesk configuration.
#
# Every key is optional; the values shown are the defaults. Lines of the form
# "#key = value" are defaults derived from other keys: leave them commented
# out to keep following those keys, or uncomment them to pin a value.
#
# Each key can also be set from the environment as MXDESK_<KEY> at the top
# level or MXDESK_<SECTION>_<KEY> in a section, for example MXDESK_DOMAIN or
# MXDESK_SMTP_LISTEN. Environment variables override this file.

# Mail domain this helpdesk answers for. The SMTP hostname, the sender
# address and the default mailbox are derived from it.
domain = "localhost"

# Directory for the server secret (secret.key, which signs reply addresses:
# back it up) and the default SQLite database. Attachments live in the database.
data_dir = "./mxdesk-data"

# "sqlite:PATH", "postgres://..." or "postgresql://...".
# Default: "sqlite:" + data_dir + "/mxdesk.db".
#database_url = "sqlite:./mxdesk-data/mxdesk.db"

# One of debug, info, warn, error.
log_level = "info"

# Sender domains whose mail counts as authenticated without DKIM or SPF, for
# customers whose mail is unsigned: a [#N] subject or a reply to their own
# Message-ID then threads onto their tickets. Anyone can forge such a From.
trusted_unauthenticated_domains = []

# Addresses mxdesk accepts mail for, each handled by a team. Mail to
# support+anything@... reaches support@... as well, so list bare addresses.
# Default: one mailbox, "support@" + domain, for the team "Support".
# Environment: MXDESK_MAILBOXES="support@example.com=Support,billing@example.com=Billing"
# A mailbox's priority (low, medium, high, urgent; empty: medium) is the
# priority of the tickets it opens, and so their SLA.
#[[mailboxes]]
#address = "support@localhost"
#team = "Support"
#priority = ""

# People who answer tickets by email, each for a team (more with
# "mxdesk agent add"). They get each new ticket and customer reply, and
# answer by replying; mxdesk sends their answer from the mailbox address.
# (None by default; uncommented, this is an example.)
#[[agents]]
#email = "ana@example.com"
#name = "Ana"
#team = "Support"

[smtp]
# host:port the inbound SMTP server listens on.
listen = "127.0.0.1:2525"
# Name announced in the SMTP greeting. Default: domain.
#hostname = "localhost"
# Larger messages are refused, so one sender cannot fill the disk (25 MiB).
max_message_bytes = 26214400
# Recipients accepted per message.
max_recipients = 50
# Idle time allowed per command and per reply; Go durations like "90s".
read_timeout = "5m"
write_timeout = "5m"
# The header block of one message: bytes and fields (552 5.3.4 past them).
max_header_bytes = 262144
max_header_fields = 1000
# One connection is closed (421 4.7.0) after this many commands, or this
# many refused commands.
max_commands = 1000
max_errors = 10
# Connections open at once, and new connections per minute from one address
# (one /64 for IPv6); past them a client gets 421 4.7.0.
max_connections = 200
conn_rate_per_ip = 60
# Networks treated like Postfix's mynetworks: exempt from the rate limit and
# from require_tls. When an MTA there relays to mxdesk, SPF is checked for
# the client its topmost Received header names. DKIM and DMARC are always
# checked here; results claimed in headers are never believed.
trusted_networks = ["127.0.0.0/8", "::1/128"]
# PEM certificate and key: enable STARTTLS.
tls_cert = ""
tls_key = ""
# Refuse mail from clients outside trusted_networks that did not STARTTLS.
require_tls = false
# host:port for implicit TLS (port 465); empty: none.
tls_listen = ""

[outbound]
# host:port of the SMTP relay for outgoing mail. "mx" delivers straight to
# each recipient domain's MX hosts (port 25, STARTTLS when offered). Empty
# writes outgoing mail to the log instead of sending it.
relay = ""
# Sender of outgoing mail. Default: "Support <support@" + domain + ">".
#from = "Support <support@localhost>"
# Give up delivering a message after retrying this long.
retry_max = "48h"
# Automatic mails (acknowledgements, notifications) sent to one address per
# hour at most; stops mail loops with other autoresponders.
max_auto_per_hour = 10
# Wait after each failed delivery attempt (temporary failures only); the last
# step repeats until retry_max.
retry_schedule = "1m,5m,15m,1h,4h"
# SMTP AUTH with the relay (PLAIN or LOGIN, only over STARTTLS).
relay_username = ""
relay_password = ""
# DKIM-sign every outgoing mail with this PEM key (RSA-2048 or Ed25519;
# opendkim-genkey -b 2048 -d DOMAIN -s mx1). d= is domain. "mxdesk dns"
# prints the TXT record to publish.
dkim_selector = ""
dkim_key = ""
# A folder of templates that replace the built-in ones file by file.
templates_dir = ""
# Language of notifications when the contact's is unknown: en or de.
default_language = "en"
# Delivered mail keeps its body this long; the cleanup job then empties it
# (the row and its Message-ID stay: replies to it still thread).
sent_retention = "2160h"

[tickets]
# A Resolved ticket is closed automatically after this long without an answer.
auto_close_after = "168h"
# A reply this long after a ticket was closed reopens it; a later one opens a new
# ticket linked to the old one.
reopen_window = "720h"

[hours]
# When the team works; the SLA clock runs only then. An IANA time zone (its
# wall clock, daylight saving included), then each day as "HH:MM-HH:MM",
# several spans for a split day ("09:00-12:00,13:00-17:00"), "" for a day off.
time_zone = "UTC"
monday = "09:00-17:00"
tuesday = "09:00-17:00"
wednesday = "09:00-17:00"
thursday = "09:00-17:00"
friday = "09:00-17:00"
saturday = ""
sunday = ""
# Dates in time_zone on which nobody works, e.g. ["2026-12-24", "2026-12-25"].
holidays = []

# SLA targets per priority in working time. One working day ("1 d") is
# written 8h: a fixed eight working hours, whatever the day's hours.
[sla.urgent]
first_response = "1h"
resolution = "4h"
[sla.high]
first_response = "4h"
resolution = "8h"
[sla.medium]
first_response = "8h"
resolution = "24h"
[sla.low]
first_response = "8h"
resolution = "40h"

[feedback]
# A Resolved ticket's customer is asked for feedback (once) after this long.
delay = "1h"
# The answers the portal's feedback form offers beside a number of stars,
# in English and German (de empty: the English one). None: two for each
# number of stars ("Quick answer", "Problem solved" for 5 ...). Listing
# any replaces them all. (Uncommented, this is an example.)
#[[feedback.options]]
#stars = 5
#en = "Quick answer"
#de = "Schnelle Antwort"

[jobs]
# Cron schedules of the background jobs: five fields ("*/10 * * * *"),
# "@hourly", "@every 30s", or "off". On PostgreSQL each tick runs on one
# replica only. Environment: MXDESK_JOBS_AUTO_CLOSE="@every 30m".
feedback-requests = "@every 10m"
auto-close = "@hourly"
sla-warnings = "@every 5m"
inbound-retry = "@every 1m"
outbound-sweep = "@every 30s"
cleanup = "@daily"

[brand]
# Name notifications are signed with. Default: the name in outbound.from.
name = ""
# Logo shown at the top of HTML notifications and of the portal's pages
# (an https URL; the portal's CSP then allows images from its origin).
logo_url = ""
# Accent colour of HTML notifications.
color = "#1f6feb"

[metrics]
# host:port for Prometheus /metrics, on its own listener. Empty: off.
listen = "127.0.0.1:9325"
# Go's profiler under /debug/pprof/ on the same listener (keep it private).
pprof = false

[log]
# "text" (key=value lines, for people) or "json" (one JSON object per line,
# for log shippers). Lines about a message carry inbound_id and message_id.
format = "text"

[dns]
# host:port of the recursive resolver used for DKIM, SPF and DMARC (and MX).
# Empty: the nameservers of /etc/resolv.conf.
server = ""
# Time allowed for one query. A lookup that fails temporarily defers the
# message (451 4.4.3) rather than letting it pass.
timeout = "5s"

[portal]
# host:port the web portal listens on.
listen = "127.0.0.1:8080"
# Public URL of the portal, used for links in mail.
# Default: "http://" + listen.
#base_url = "http://127.0.0.1:8080"
# Customer sessions: signed out after session_idle without a request, and
# session_lifetime after signing in. With two-factor authentication on, at
# most 1h and 24h whatever is set here.
session_idle = "24h"
session_lifetime = "720h"
# Peers whose X-Forwarded-For header names the client (for throttling and
# logs): the HTTPS proxy in front of the portal. From anyone else the header
# is ignored.
trusted_proxies = ["127.0.0.0/8", "::1/128"]
# Let customers mark a ticket they open in the portal as high priority.
customer_priority = false

[kb]
# Show the knowledge base (/kb, /search) to everyone; false hides it.
public = true

# Ticket templates of the portal's new-ticket form: a text above the form,
# a pre-filled description, extra fields stored with the ticket (form field
# "field_<name>"; type text, textarea, select, checkbox, date or number;
# options for a select). None: Bug Report, Feature Request, General
# Question. (Uncommented, this is an example.)
#[[templates]]
#name = "Bug Report"
#about = "Tell us how to reproduce it."
#body = "Steps to reproduce:\n\nExpected:\n\nActual:\n"
#[[templates.fields]]
#name = "version"
#label = "Version"
#type = "text"
#required = true
#options = []

[api]
# Each API token's budget: burst requests at once, refilled at rate_per_minute.
# Past it: 429 with Retry-After.
rate_per_minute = 600
burst = 50
`
