"""ESP32-C3 (RISC-V, e.g. ESP32-C3-DevKitM-1): addressable RGB LED on GPIO8 (coloured by
state), BOOT button on GPIO9, analogue input on GPIO3 (ADC1, mV). Image at flash offset 0."""
from board_esp32 import Board as _Esp32


class Board(_Esp32):
    name = "esp32c3"
    arch = "rv32imc"
    chip = "esp32c3"
    flash_offset = 0x0
    led_pin = 8          # WS2812-type on the DevKitM-1; other C3 boards differ (override)
    rgb_led = True
    button_pin = 9       # BOOT, active low
    # Not a dev-board fixture, our choice: GPIO3 is ADC1 channel 3 on the C3 and the C6 and
    # no strapping pin (ADC1 is GPIO0-4 on the C3); wire the sensor there or override "sensor".
    sensor_pin = 3
