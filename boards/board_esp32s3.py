"""ESP32-S3 (e.g. ESP32-S3-DevKitC-1): addressable RGB LED on GPIO48 (coloured by state),
BOOT button on GPIO0, analogue input on GPIO1 (ADC1, mV). Image at flash offset 0."""
from board_esp32 import Board as _Esp32


class Board(_Esp32):
    name = "esp32s3"
    chip = "esp32s3"
    flash_offset = 0x0
    led_pin = 48         # WS2812 (GPIO38 on DevKitC-1 v1.1: board.detect(None, {"led": 38}))
    rgb_led = True
    sensor_pin = 1
