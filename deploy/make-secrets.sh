#!/bin/sh
# Make the secret files docker-compose.yml mounts, in deploy/secrets/.
# Never overwrites a file that exists, so it is safe to run again.
#   MENSC_HOST=circles.example.org deploy/make-secrets.sh
# The certificate it makes is self-signed, for trying the stack out: put your
# real certificate chain and key in secrets/tls.crt and secrets/tls.key.
# Vendor secrets start empty (that feature off); paste a key into its file to
# turn it on, then `docker compose ... up -d` again.
set -eu

cd "$(dirname "$0")"
host="${MENSC_HOST:-localhost}"
umask 077
mkdir -p secrets
# The folder is private on the host. The files are readable by any user,
# because each is mounted on its own inside the containers, where the app
# runs as uid 10001 and PostgreSQL as its own user; the folder stays closed.
chmod 700 secrets

random() {
    python3 -c 'import secrets; print(secrets.token_urlsafe(48))'
}

write() { # name value
    if [ ! -e "secrets/$1" ]; then
        printf '%s\n' "$2" > "secrets/$1"
        echo "made secrets/$1"
    fi
    chmod 644 "secrets/$1"
}

write secret_key "$(random)"
write postgres_password "$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
password="$(cat secrets/postgres_password)"
write database_url "postgres://mensc:${password}@postgres-main:5432/mensc"
write creds_database_url "postgres://mensc:${password}@postgres-creds:5432/mensc_creds"
write redis_password "$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
# Redis had no password before: an old URL without one is made again with it.
if [ -e secrets/redis_url ] && ! grep -q '@' secrets/redis_url; then
    rm secrets/redis_url
fi
write redis_url "redis://:$(cat secrets/redis_password)@redis:6379/0"
for vendor in sendgrid_api_key twilio_auth_token stripe_secret_key stripe_webhook_secret \
    google_client_secret; do
    write "$vendor" ""
done

if [ ! -e secrets/tls.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=${host}" \
        -addext "subjectAltName=DNS:${host}" \
        -keyout secrets/tls.key -out secrets/tls.crt 2>/dev/null
    echo "made secrets/tls.crt and secrets/tls.key (self-signed for ${host})"
fi
chmod 644 secrets/tls.crt secrets/tls.key
