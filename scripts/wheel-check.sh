#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment outside the checkout (torch first, pinned, as the
# Makefile does), and map the bundled toy from another folder with the console script and with `import induction`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
.venv/bin/pip wheel -q --no-deps . -w "$WORK/dist" 2> >(grep -v "WARNING: Location" >&2)
rm -rf build  # setuptools builds in the source tree; nothing of it belongs in the checkout
WHEEL=$(ls "$WORK"/dist/induction-*.whl)
echo "built $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) kB)"
CONTENTS=$(unzip -l "$WHEEL")
for f in induction/toys/assets/toy/model.safetensors induction/toys/assets/toy-gpt/model.safetensors induction/py.typed; do
  grep -q "$f" <<<"$CONTENTS" || { echo "the wheel lacks $f"; exit 1; }
done
$PY -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q torch==2.13.0 2> >(grep -v "WARNING: Location" >&2)
# the wheel's own (loose) dependencies, resolved against the pins the Makefile uses
"$WORK/venv/bin/pip" install -q "$WHEEL" -c requirements.txt 2> >(grep -v "WARNING: Location" >&2)
mkdir "$WORK/elsewhere" && cd "$WORK/elsewhere"
export INDUCTION_CACHE_DIR="$WORK/cache" TRANSFORMERS_VERBOSITY=error
"$WORK/venv/bin/induction" map --model toy --setup standard --trials 10 --json map.json
"$WORK/venv/bin/python" - <<'PY'
import json, sys

import induction

assert "/site-packages/" in induction.__file__, induction.__file__  # the installed package, not a checkout
result = induction.compute_map(induction.MapConfig(model="toy", trials=10))
best = result.top_heads("prev", 1)[0]
cli = json.load(open("map.json"))
assert best.name in ("L1H0", "L1H1") and best.score > 0.5, best
assert abs(cli["mean"]["prev"][best.layer][best.head] - best.score) < 1e-6, "the console script and the API differ"
print(f"installed wheel: import induction maps the toy, best prev head {best.name} {best.score:.3f}; "
      "the console script agrees")
PY
