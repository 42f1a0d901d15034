#!/usr/bin/env bash
# Makes the screenshots in docs/: docs/terminal.png (the default study running in a 120×45 tmux
# terminal, captured with `tmux capture-pane` once its overall bar passes SHOT_PCT percent, and
# rendered to PNG by headless Chromium), docs/terminal-end.png (the same terminal when the run has
# ended: the last frame and the closing summary) and docs/report.png (the top 3600 px of that run's
# report/index.html at 1400 px, headless Chromium).
# Usage: scripts/screenshots.sh            (builds with `make build` first)
#        SKIP_BUILD=1 BIN=DIR scripts/screenshots.sh   (uses the binaries already in DIR)
#        SHOTS=terminal scripts/screenshots.sh         (only the terminal's; SHOTS=report: only the report)
# Needs tmux, chromium and Debian's python3 (apt-get install tmux chromium python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${BIN:-$root/bin}
shot_pct=${SHOT_PCT:-45}   # the overall bar's percentage at which the terminal is captured
shots=${SHOTS:-terminal report}
cols=120 rows=45
for tool in tmux chromium /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool is needed (apt-get install tmux chromium python3)" >&2; exit 1; }
done
[ -n "${SKIP_BUILD:-}" ] || make build
export ONNXRUNTIME_LIB=${ONNXRUNTIME_LIB:-$root/.deps/onnxruntime/libonnxruntime.so.1}
export VISTUDY_PLUGINS=$bin
tmp=$(mktemp -d)
session=vistudy-shot-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# The terminal: the run in tmux, captured (with colours) while it is under way.
cat > "$tmp/run.sh" <<EOF
cd '$root'
export ONNXRUNTIME_LIB='$ONNXRUNTIME_LIB' VISTUDY_PLUGINS='$bin'
'$bin/vistudy' run pipeline.yaml --output '$tmp/run'
echo "exit \$?" > '$tmp/done'
sleep 600
EOF
tmux new-session -d -s "$session" -x $cols -y $rows -c "$root" "env TERM=xterm-256color bash '$tmp/run.sh'"
# Capture the first frame whose overall bar ("  all · N stages ... 45%") has passed shot_pct.
for _ in $(seq 1 1200); do
  tmux capture-pane -t "$session" -p -e > "$tmp/pane.ansi"
  pct=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/pane.ansi" | sed -n 's/^.*all · [0-9]* stages .* \([0-9]*\)%  .*/\1/p' | tail -1)
  [ -n "$pct" ] && [ "$pct" -ge "$shot_pct" ] && break
  [ -f "$tmp/done" ] && break
  sleep 0.25
done
[ -n "${pct:-}" ] || { echo "screenshots: no overall bar was seen on the terminal" >&2; exit 1; }
for _ in $(seq 1 300); do [ -f "$tmp/done" ] && break; sleep 1; done
[ -f "$tmp/done" ] || { echo "screenshots: the run did not finish in 5 minutes" >&2; exit 1; }
grep -q "exit 0" "$tmp/done" || { tmux capture-pane -t "$session" -p -S -40 | grep -v '^$' >&2; echo "screenshots: the run failed" >&2; exit 1; }
sleep 1
tmux capture-pane -t "$session" -p -e > "$tmp/end.ansi"

# ANSI (SGR colours, bold) to an HTML page of the terminal's cells, less the blank rows at the
# bottom; prints the number of rows.
to_html() { /usr/bin/python3 - "$1" "$2" <<'EOF'
import html, re, sys
base = ["#2e3436", "#cc0000", "#4e9a06", "#c4a000", "#3465a4", "#75507b", "#06989a", "#d3d7cf",
        "#555753", "#ef2929", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec"]
def c256(n):
    if n < 16: return base[n]
    if n < 232:
        n -= 16; v = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (v[n // 36], v[n // 6 % 6], v[n % 6])
    g = 8 + 10 * (n - 232); return "#%02x%02x%02x" % (g, g, g)
text = open(sys.argv[1], encoding="utf-8", errors="replace").read().rstrip("\n") + "\n"
print(text.count("\n"))
out, fg, bg, bold = [], None, None, False
for part in re.split(r"(\x1b\[[0-9;]*m)", text):
    m = re.fullmatch(r"\x1b\[([0-9;]*)m", part)
    if not m:
        if part:
            style = []
            if fg: style.append("color:" + fg)
            if bg: style.append("background:" + bg)
            if bold: style.append("font-weight:bold")
            s = html.escape(part)
            out.append('<span style="%s">%s</span>' % (";".join(style), s) if style else s)
        continue
    codes = [int(c) if c else 0 for c in m.group(1).split(";")]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0: fg, bg, bold = None, None, False
        elif c == 1: bold = True
        elif c == 22: bold = False
        elif 30 <= c <= 37: fg = base[c - 30]
        elif 90 <= c <= 97: fg = base[c - 90 + 8]
        elif 40 <= c <= 47: bg = base[c - 40]
        elif 100 <= c <= 107: bg = base[c - 100 + 8]
        elif c == 39: fg = None
        elif c == 49: bg = None
        elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
            if c == 38: fg = c256(codes[i + 2])
            else: bg = c256(codes[i + 2])
            i += 2
        elif c in (38, 48) and i + 4 < len(codes) and codes[i + 1] == 2:
            col = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
            if c == 38: fg = col
            else: bg = col
            i += 4
        i += 1
page = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
html, body { margin: 0; background: #1e1e1e; }
pre { margin: 0; padding: 12px 14px; color: #e8e8e8; font: 14px/1.25 "DejaVu Sans Mono", "Liberation Mono", monospace;
      white-space: pre; }
</style></head><body><pre>%s</pre></body></html>""" % "".join(out)
open(sys.argv[2], "w", encoding="utf-8").write(page)
EOF
}

shoot() { # URL WIDTH HEIGHT OUT
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$(mktemp -d -p "$tmp")" \
    --window-size="$2,$3" --virtual-time-budget=5000 --screenshot="$4" "$1" >/dev/null 2>&1
  [ -s "$4" ] || { echo "screenshots: chromium wrote no $4" >&2; exit 1; }
}
mkdir -p docs
# 120 columns of 14 px DejaVu Sans Mono (8.43 px wide) and rows of 17.5 px, plus the padding.
names=()
case " $shots " in *" terminal "*)
  n=$(to_html "$tmp/pane.ansi" "$tmp/terminal.html"); shoot "file://$tmp/terminal.html" 1040 $((n * 35 / 2 + 26)) "$tmp/terminal.png"
  n=$(to_html "$tmp/end.ansi" "$tmp/terminal-end.html"); shoot "file://$tmp/terminal-end.html" 1040 $((n * 35 / 2 + 26)) "$tmp/terminal-end.png"
  names+=(terminal terminal-end) ;;
esac
case " $shots " in *" report "*) shoot "file://$tmp/run/report/index.html" 1400 3600 "$tmp/report.png"; names+=(report) ;; esac
# Smaller files for the repository: palette PNGs (the pages have few colours).
/usr/bin/python3 - "$tmp" "${names[@]}" <<'EOF'
import sys
from PIL import Image
tmp = sys.argv[1]
for name in sys.argv[2:]:
    im = Image.open(f"{tmp}/{name}.png").convert("RGB")
    im.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(f"docs/{name}.png", optimize=True)
EOF
for name in "${names[@]}"; do ls -l "docs/$name.png"; done
