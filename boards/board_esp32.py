"""ESP32 (classic, e.g. ESP32-DevKitC / WROOM-32): LED on GPIO2, BOOT button on GPIO0,
analogue input on GPIO34 (ADC1, 11 dB attenuation, read in mV)."""
from board import Board as _Board


class Board(_Board):
    name = "esp32"
    arch = "xtensawin"
    chip = "esp32"
    flash_offset = 0x1000
    led_pin = 2
    button_pin = 0       # BOOT, active low
    sensor_pin = 34
    sensor_unit = "mV"

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
