"""ESP32-S3 (e.g. ESP32-S3-DevKitC-1): addressable RGB LED on GPIO48 (coloured by state),
BOOT button on GPIO0, analogue input on GPIO1 (ADC1, mV). Image at flash offset 0."""
from board_esp32 import Board as _Esp32

# Colour per LED state (dim: the LED is bright).
_COLOURS = {"connecting": (16, 8, 0), "registered": (0, 16, 0), "error": (16, 0, 0),
            "safe": (0, 0, 16)}


class Board(_Esp32):
    name = "esp32s3"
    chip = "esp32s3"
    flash_offset = 0x0
    led_pin = 48         # WS2812 (GPIO38 on DevKitC-1 v1.1: set Board.led_pin before use)
    sensor_pin = 1

    def _led_write(self, on):
        if self._led is None:
            from machine import Pin
            from neopixel import NeoPixel
            self._led = NeoPixel(Pin(self.led_pin, Pin.OUT), 1)
        self._led[0] = _COLOURS.get(self.state, (8, 8, 8)) if on else (0, 0, 0)
        self._led.write()
