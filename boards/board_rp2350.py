"""Raspberry Pi Pico 2 W (RP2350 + CYW43439, ARM build): the Pico W's layout, LED "LED" (on
the Wi-Fi chip), BOOTSEL as the button, on-chip temperature sensor on ADC 4 (same formula as
the RP2040, RP2350 datasheet 12.4.6). Flashed by UF2 copy to the RP2350 drive. The RISC-V
build of the firmware (_machine "... with RP2350-RISCV") is refused by board.detect()."""
from board_rp2040 import Board as _Rp2040


class Board(_Rp2040):
    name = "rp2350"
    arch = "armv7emsp"   # Cortex-M33 with single-precision FPU
    uf2_drive = "RP2350"
