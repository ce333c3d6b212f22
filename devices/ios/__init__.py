"""iOS targets (extra ``ios``: pymobiledevice3): readers of sysmon, diagnostics and energy output."""
