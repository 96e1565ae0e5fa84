"""Raspberry Pi Pico W (RP2040 + CYW43439): LED "LED" (on the Wi-Fi chip), BOOTSEL as the
button, on-chip temperature sensor on ADC 4. Flashed by UF2 copy, not esptool."""
from board import Board as _Board

# RP2040 datasheet 4.9.5: T = 27 - (V - 0.706) / 0.001721, V from the 12-bit ADC at 3.3 V.
_VREF = 3.3
_V27 = 0.706
_SLOPE = 0.001721


def adc_to_celsius(raw_u16):
    return 27 - (raw_u16 * _VREF / 65535 - _V27) / _SLOPE


class Board(_Board):
    name = "rp2040"
    arch = "armv6m"
    led_pin = "LED"
    button_pin = "BOOTSEL"
    sensor_unit = "C"
    uf2_drive = "RPI-RP2"
    wdt_max_ms = 8388    # MicroPython's rp2 port limit (0xffffff / 2 us), RP2350 too

    def button_held(self):
        import rp2
        return bool(rp2.bootsel_button())

    def read_sensor(self):
        """On-chip temperature in degrees C, one decimal."""
        if self._adc is None:
            from machine import ADC
            self._adc = ADC(4)
        return round(adc_to_celsius(self._adc.read_u16()), 1)
