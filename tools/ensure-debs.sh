#!/bin/sh
# Installs the Debian packages the tests and the simulation need, only when missing.
# libcoap3-bin: independent CoAP peers (coap-client-notls, coap-server-notls, -openssl).
# socat: a pseudo-terminal for driving the unix port with mpremote.
set -e
need=""
command -v coap-client-notls >/dev/null 2>&1 || need="$need libcoap3-bin"
command -v socat >/dev/null 2>&1 || need="$need socat"
[ -z "$need" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "installing Debian packages:$need"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
