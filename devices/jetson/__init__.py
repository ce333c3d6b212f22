"""NVIDIA Jetson boards: INA3221 rails from hwmon, thermal zones, and tegrastats."""
