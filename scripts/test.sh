#!/usr/bin/env bash
# The test command: makes sure what the tests need is here (PostgreSQL and
# MariaDB running, psql/pgbench/mariadb clients, Chromium for the browser test),
# then runs every test against the real servers.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_packages=()
command -v psql >/dev/null || need_packages+=(postgresql-client)
command -v pgbench >/dev/null || need_packages+=(postgresql-contrib)
command -v chromium >/dev/null || need_packages+=(chromium)
command -v chromedriver >/dev/null || need_packages+=(chromium-driver)
command -v openssl >/dev/null || need_packages+=(openssl)
command -v node >/dev/null || need_packages+=(nodejs npm)
python3 -c "import venv, ensurepip" 2>/dev/null || need_packages+=(python3-venv)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "installing: ${need_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then
  if ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
    echo "starting MariaDB"
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  fi
fi
for _ in $(seq 1 60); do
  pg_isready -h 127.0.0.1 -p 5432 -q && break
  sleep 1
done
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test"

# Unit and integration tests (4 at a time: most of their time is waiting on servers),
# then each benchmark run once as a test.
cargo test --lib --bins --tests -- --test-threads=4
cargo test --benches
