#!/bin/sh
# Render the book (HTML, and PDF through Typst) for `make book` / `make report`.
#
#   VENV=.venv PROFILE=full tools/render_book.sh
#
# 1. If Quarto >= 1.9.18 is on PATH (the environment's bin/ first), run `quarto render`
#    with ORGANIZING_PROFILE=$PROFILE and the environment on PATH, so that the chapters'
#    Jupyter kernel imports the installed `organizing` package.
# 2. Otherwise install the package's `render` extra (quarto-cli from PyPI, which fetches
#    the Quarto binary while it installs) into the environment, once, and render.
# 3. If that fails (no network, a blocked download, an old Quarto), print one line saying
#    why, leave the computed results where they are, and exit 0: the results are the
#    product, the rendered book is a view of them. A failing `quarto render` still fails.
#
# It lives outside the package on purpose: editing it does not change the results'
# cache key.
set -u

VENV=${VENV:-.venv}
PROFILE=${PROFILE:-full}
MIN_VERSION=1.9.18
CACHE=${ORGANIZING_CACHE_DIR:-.cache/organizing}
case $VENV in
    /*) BIN=$VENV/bin ;;
    *) BIN=$PWD/$VENV/bin ;;
esac
PATH=$BIN:$PATH
export PATH

# True if `quarto` on PATH reports a version of at least MIN_VERSION.
recent_quarto() {
    command -v quarto >/dev/null 2>&1 || return 1
    version=$(quarto --version 2>/dev/null | head -n 1)
    [ -n "$version" ] || return 1
    oldest=$(printf '%s\n%s\n' "$MIN_VERSION" "$version" | sort -V | head -n 1)
    [ "$oldest" = "$MIN_VERSION" ]
}

# One line: why the book was not rendered, where the results are, what to do.
give_up() {
    echo "The book was not rendered: $1. The results are in $CACHE/ ('$VENV/bin/organizing summary' prints them); install Quarto >= $MIN_VERSION (https://quarto.org/docs/get-started/) and run 'make book'."
    exit 0
}

if ! recent_quarto; then
    what=Quarto
    if command -v quarto >/dev/null 2>&1; then
        what="Quarto $(quarto --version 2>/dev/null | head -n 1) is older than $MIN_VERSION, and a newer one"
    fi
    log=$VENV/quarto-install.log
    mkdir -p "$VENV"
    if ! "$BIN/python" -m pip install --quiet -e ".[render]" >"$log" 2>&1; then
        # The most telling line: quarto-cli's own download error, else pip's last error.
        reason=$(grep -m 1 "Error downloading Quarto" "$log")
        [ -n "$reason" ] || reason=$(grep "ERROR:" "$log" | tail -n 1)
        [ -n "$reason" ] || reason=$(grep . "$log" | tail -n 1)
        reason=$(printf '%s' "$reason" | sed -e 's/^[[:space:]]*//' | head -n 1 | cut -c 1-200)
        give_up "$what could not be installed (${reason:-pip failed}; details in $log)"
    fi
    hash -r 2>/dev/null  # forget where the shell last found `quarto`
    recent_quarto || give_up "quarto-cli installed, but no Quarto >= $MIN_VERSION is on PATH"
fi

ORGANIZING_PROFILE=$PROFILE exec quarto render
