#!/bin/sh
# Refuse to start the stack while a secret is missing, still the .env.example placeholder, or short.
# Run by the compose service `config-check`, which every other service waits for.
# Usage: check-config.sh [path/to/.env.example]   (the variables are read from the environment)
set -eu
example="${1:-/opt/cchc/.env.example}"
secrets="POSTGRES_PASSWORD CCHC_PSEUDONYM_KEY CCHC_SOURCE_TOKEN AIRFLOW_JWT_SECRET AIRFLOW_API_SECRET_KEY"
min_length=16
failed=0
for name in $secrets; do
    eval "value=\${$name:-}"
    placeholder=$(sed -n "s/^$name=//p" "$example" | head -n 1)
    if [ -z "$value" ]; then
        echo "config-check: $name is not set (see .env.example)" >&2
        failed=1
    elif [ -n "$placeholder" ] && [ "$value" = "$placeholder" ]; then
        echo "config-check: $name is still the placeholder of .env.example; set a real secret in .env" >&2
        failed=1
    elif [ "${#value}" -lt "$min_length" ]; then
        echo "config-check: $name is shorter than $min_length characters" >&2
        failed=1
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "config-check: refusing to start (generate secrets with: openssl rand -hex 32)" >&2
    exit 1
fi
echo "config-check: secrets set"
