#!/usr/bin/env bash
# Checks an HTML report as a reader's browser sees it:
#   check-report.sh FILE.html OUT.png
# 1. Static: a CSP of default-src 'none', no <script>, and no external URL in src/href/srcset/action/
#    poster/data attributes, CSS url() or @import (xmlns namespace attributes are names, not requests).
# 2. Screenshot: headless Chromium at 1280x2400 writes OUT.png.
# 3. Requests: page-requests.mjs loads the page again over the DevTools protocol and lists every request
#    the page's own target makes (CSP-blocked attempts included). Any is a failure. A proxy log cannot do
#    this: Chromium makes background calls (update checks, network time, sign-in) whatever its flags,
#    and a log cannot tell them from the page's.
# Both runs send everything to a dead proxy (127.0.0.1:9, loopback included), so whatever the page or
# the browser tries, nothing leaves the machine during the check.
# Exit status: 0 clean, 1 a request or an external reference found, 2 usage or tool failure.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FILE.html OUT.png" >&2
  exit 2
fi
here=$(dirname "$(realpath "$0")")
page=$(realpath "$1")
shot=$(realpath -m "$2")
[[ -f $page ]] || { echo "no such file: $1" >&2; exit 2; }

# Debian's /usr/bin/chromium wrapper adds flags of its own (remote extensions, API keys); run the binary
# behind it so the flags below are all there is. CHROMIUM=... overrides.
chromium=${CHROMIUM:-}
if [[ -z $chromium ]]; then
  if [[ -x /usr/lib/chromium/chromium ]]; then chromium=/usr/lib/chromium/chromium; else chromium=$(command -v chromium || true); fi
fi
[[ -n $chromium && -x $chromium ]] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--no-first-run --no-default-browser-check --disable-background-networking --disable-component-update
  --disable-sync --disable-extensions --hide-scrollbars
  --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>')
status=0

# ---- 1. static scan -----------------------------------------------------------------------------
if grep -niE '<script' "$page" >"$work/static"; then
  echo "FAIL static: <script> in page:" >&2; cut -c1-200 "$work/static" >&2; status=1
fi
if grep -noiE "(src|href|srcset|action|formaction|poster|data|background)[[:space:]]*=[[:space:]]*[\"']?[[:space:]]*([a-z][a-z0-9+.-]*:)?//[^\"' >]*|url\([[:space:]]*[\"']?[[:space:]]*([a-z][a-z0-9+.-]*:)?//[^)\"']*|@import[^;]*" "$page" >"$work/static"; then
  echo "FAIL static: external reference in page:" >&2; cut -c1-200 "$work/static" >&2; status=1
fi
if ! grep -qiE "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'" "$page"; then
  echo "FAIL static: no Content-Security-Policy with default-src 'none'" >&2; status=1
fi
[[ $status -eq 0 ]] && echo "ok static: CSP present, no script, no external reference"

# ---- 2. screenshot --------------------------------------------------------------------------------
rm -f "$shot"
if ! timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --user-data-dir="$work/profile" "${flags[@]}" \
  --window-size=1280,2400 --screenshot="$shot" "file://$page" >"$work/chromium.log" 2>&1 || [[ ! -s $shot ]]; then
  echo "chromium failed to take the screenshot:" >&2; tail -20 "$work/chromium.log" >&2; exit 2
fi
echo "screenshot: $shot"

# ---- 3. the page's requests -------------------------------------------------------------------------
set +e
node "$here/page-requests.mjs" "$chromium" "$page" "${flags[@]}" >"$work/requests" 2>"$work/requests.err"
rc=$?
set -e
case $rc in
  0) echo "ok requests: the page made no request" ;;
  1) echo "FAIL requests: the page asked for $(grep -vc "^blocked:" "$work/requests") resource(s) (blocked:csp: refused by its CSP before leaving):" >&2; sed 's/^/  /' "$work/requests" >&2; status=1 ;;
  *) echo "request check failed to run:" >&2; cat "$work/requests.err" >&2; exit 2 ;;
esac
exit $status
