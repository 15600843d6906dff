#!/usr/bin/env bash
# Fetch the pinned font package from the npm registry again and check the committed files
# against it and against SHA256SUMS. `--write` replaces the committed files with the fetched ones
# (after changing the version below: then update SHA256SUMS with `sha256sum`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="@fontsource/noto-nastaliq-urdu@5.3.0"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "$package" --silent >/dev/null && tar xzf ./*.tgz)
for weight in 400 700; do
  name="noto-nastaliq-urdu-arabic-${weight}-normal.woff2"
  if [ "${1:-}" = "--write" ]; then cp "$work/package/files/$name" "$here/$name"; fi
  cmp "$work/package/files/$name" "$here/$name"
done
if [ "${1:-}" = "--write" ]; then cp "$work/package/LICENSE" "$here/OFL-1.1.txt"; fi
cmp "$work/package/LICENSE" "$here/OFL-1.1.txt"
(cd "$here" && sha256sum --check --quiet SHA256SUMS)
echo "console assets: $package matches the committed files"
