#!/bin/sh
# Installs the Debian packages the tests and the simulation need, only when missing.
# libcoap3-bin: independent CoAP peers (coap-client-notls, coap-server-notls, -openssl).
# socat: a pseudo-terminal for driving the unix port with mpremote.
# gcc-multilib: gcc -m32 for the board-true unix32 firmware (make firmware BOARD=unix32);
#   skipped when a 32-bit compiler already works (Debian's gcc-i686-linux-gnu conflicts with it).
set -e
need=""
command -v coap-client-notls >/dev/null 2>&1 || need="$need libcoap3-bin"
command -v socat >/dev/null 2>&1 || need="$need socat"
m32_ok() {
    printf 'int main(void){return 0;}' > /tmp/.m32probe.$$.c
    ok=1
    gcc -m32 -o /tmp/.m32probe.$$ /tmp/.m32probe.$$.c >/dev/null 2>&1 && /tmp/.m32probe.$$ && ok=0
    [ $ok = 0 ] || { i686-linux-gnu-gcc -o /tmp/.m32probe.$$ /tmp/.m32probe.$$.c >/dev/null 2>&1 \
        && /tmp/.m32probe.$$ && ok=0; }
    rm -f /tmp/.m32probe.$$ /tmp/.m32probe.$$.c
    return $ok
}
m32_ok || need="$need gcc-multilib"
[ -z "$need" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "installing Debian packages:$need"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
