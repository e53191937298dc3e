#!/bin/sh
# Installs the service's dependencies into vendor/, which `up` runs from and
# deploy packages (the Lambda zip, the Fargate image, the EC2 artifact).
# Wheels only, no compiler; all pure Python but markupsafe, whose compiled
# speedups are optional (elsewhere it falls back to Python). Installing is
# skipped when requirements.txt has not changed since the last install.
set -e
if [ -f vendor/.requirements ] && cmp -s requirements.txt vendor/.requirements; then
    exit 0
fi
rm -rf vendor
python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts \
    --root-user-action=ignore --no-compile --no-deps \
    --only-binary=:all: --target vendor -r requirements.txt
cp requirements.txt vendor/.requirements
