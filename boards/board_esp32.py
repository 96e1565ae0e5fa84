"""ESP32 (classic, e.g. ESP32-DevKitC / WROOM-32): LED on GPIO2, BOOT button on GPIO0,
analogue input on GPIO34 (ADC1, 11 dB attenuation, read in mV). The other ESP32 chips
(S3, C3, C6) build on this class: they change pins and, with `rgb_led`, drive one addressable
RGB LED coloured by state."""
from board import Board as _Board

# Colour per LED state for an RGB LED (dim: these LEDs are bright).
_COLOURS = {"connecting": (16, 8, 0), "registered": (0, 16, 0), "error": (16, 0, 0),
            "safe": (0, 0, 16)}


class Board(_Board):
    name = "esp32"
    arch = "xtensawin"
    chip = "esp32"
    flash_offset = 0x1000
    led_pin = 2
    rgb_led = False      # True: led_pin drives one WS2812-type LED (neopixel)
    button_pin = 0       # BOOT, active low
    sensor_pin = 34
    sensor_unit = "mV"

    def _led_write(self, on):
        if not self.rgb_led:
            return _Board._led_write(self, on)
        if self._led is None:
            from machine import Pin
            from neopixel import NeoPixel
            self._led = NeoPixel(Pin(self.led_pin, Pin.OUT), 1)
        self._led[0] = _COLOURS.get(self.state, (8, 8, 8)) if on else (0, 0, 0)
        self._led.write()

    def rtc_memory(self):
        import machine
        return machine.RTC()      # RTC slow memory: 2 KB kept through deep sleep

    def button_held(self):
        from machine import Pin
        return Pin(self.button_pin, Pin.IN, Pin.PULL_UP).value() == 0

    def read_sensor(self):
        """Voltage on sensor_pin in mV (int)."""
        if self._adc is None:
            from machine import ADC, Pin
            self._adc = ADC(Pin(self.sensor_pin))
            self._adc.atten(ADC.ATTN_11DB)
        return self._adc.read_uv() // 1000
