"""ESP32-C6 (RISC-V, e.g. ESP32-C6-DevKitC-1): the C3's layout, RGB LED on GPIO8, BOOT
button on GPIO9, analogue input on GPIO3 (ADC1, mV). Image at flash offset 0."""
from board_esp32c3 import Board as _C3


class Board(_C3):
    name = "esp32c6"
    chip = "esp32c6"
