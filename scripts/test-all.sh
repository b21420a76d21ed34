#!/usr/bin/env bash
# `npm test`: every suite, on a fresh machine too. Installs and starts the real services (services/ up is
# idempotent: Debian packages if missing, Kafka and Elasticsearch from Maven Central, cached), then runs
# typecheck → unit (+ contract suites on the stand-ins) → build (the compiled daemon starts and answers
# /healthz) → integration → chaos, and prints one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
status=0
step() { echo; echo "=== $* ==="; }

step "node $(node -v)"
# The suite runs on the Node line of package.json `engines` (.ci/run installs it: bash scripts/install-node.sh).
if ! node -e 'const want = Number(require("./package.json").engines.node.match(/\d+/)[0]); process.exit(Number(process.versions.node.split(".")[0]) >= want ? 0 : 1)'; then
  echo "node $(node -v) is older than package.json engines ($(node -p 'require("./package.json").engines.node')):"
  echo "  export PATH=\"\$(bash scripts/install-node.sh):\$PATH\"   # installs .node-version into .cache/node"
  exit 1
fi

step "typecheck"
npx tsc --noEmit || status=1

step "unit tests"
npx vitest run --project unit --reporter=default --reporter=json --outputFile=artifacts/unit.json || status=1

step "build (tsc → JavaScript; the compiled daemon starts on node alone)"
npx vitest run --project build --reporter=default --reporter=json --outputFile=artifacts/build.json || status=1

step "real services (services/ up)"
if ! npx tsx services/cli.ts up; then
  echo "services failed to start: see .run/*/log files"; status=1
fi

if [ $status -eq 0 ] || [ "${TAGSTREAM_TEST_CONTINUE:-}" = 1 ]; then
  step "integration tests (real PostgreSQL, Redis, Kafka, Elasticsearch)"
  npx vitest run --project integration --no-file-parallelism --reporter=default --reporter=json --outputFile=artifacts/integration.json || status=1
  step "chaos tests"
  npx vitest run --project chaos --no-file-parallelism --passWithNoTests --reporter=default --reporter=json --outputFile=artifacts/chaos.json || status=1
fi

node scripts/summarise-results.mjs artifacts/unit.json artifacts/build.json artifacts/integration.json artifacts/chaos.json || status=1
exit $status
