#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for user postgres.
# Order: already running -> start the installed cluster -> apt-get install and start.
set -uo pipefail

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
SUDO=()
[[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && SUDO=(sudo -n)

if pg_up; then echo "PostgreSQL: already listening on 127.0.0.1:5432"; exit 0; fi

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    echo "PostgreSQL: installing from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq >/dev/null 2>&1 || true
    "${SUDO[@]}" apt-get install -y -qq postgresql >/dev/null 2>&1 || { echo "PostgreSQL: apt-get install failed"; exit 1; }
fi

if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    conf=/etc/postgresql/$ver/main/pg_hba.conf
    # trust for local TCP connections (test machine only)
    if [[ -f $conf ]] && ! grep -q '^host all all 127.0.0.1/32 trust' "$conf"; then
        "${SUDO[@]}" sed -i '1i host all all 127.0.0.1/32 trust\\nhost all all ::1/128 trust' "$conf"
    fi
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
else
    # no Debian cluster: initdb a private one
    bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
    data=${TMPDIR:-/tmp}/cimedic-pg
    if [[ ! -d $data ]]; then
        mkdir -p "$data"
        if [[ $(id -u) -eq 0 ]]; then chown postgres "$data"; RUN=(su postgres -c); else RUN=(bash -c); fi
        "${RUN[@]}" "$bin/initdb -D $data -U postgres --auth=trust" >/dev/null
    fi
    if [[ $(id -u) -eq 0 ]]; then RUN=(su postgres -c); else RUN=(bash -c); fi
    "${RUN[@]}" "$bin/pg_ctl -D $data -o '-h 127.0.0.1 -p 5432' -l $data/log -w start" >/dev/null
fi

for _ in $(seq 1 30); do pg_up && { echo "PostgreSQL: started"; exit 0; }; sleep 0.5; done
echo "PostgreSQL: not listening after start"
exit 1
