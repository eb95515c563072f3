# PlaceCode tasks. Run through ./run (which sets the machine up first), e.g. ./run test.
set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

python := justfile_directory() / ".venv/bin/python"

# Recipes for each part live beside it, one file per area.
import? 'just/site.just'
import? 'just/decode.just'
import? 'just/idcard.just'
import? 'just/board.just'
import? 'just/shop.just'
import? 'just/provisioning.just'
import? 'just/codes.just'
import? 'just/console.just'
import? 'just/deploy.just'
import? 'just/check.just'

# list recipes
default:
    @just --list
