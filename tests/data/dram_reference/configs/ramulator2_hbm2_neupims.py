"""Ramulator 2.1 configuration matching neumelt's hbm2-neupims preset (see ../README.md).

Exported to YAML with `python -m ramulator export ramulator2_hbm2_neupims.py -o <yaml>` and
loaded by a timed-trace driver through the External frontend (Ramulator's trace frontends have
no arrival times). HBM2 pseudo-channel mode: each pseudo-channel has its own half of the
128-bit bus, so a 64 B request occupies it nBL = 4 cycles (16 B/cycle per pseudo-channel,
32 B/cycle per channel: the preset's peak); all other timings are the preset's.
"""

import ramulator

TIMINGS = dict(nCL=14, nCWL=4, nRCDRD=14, nRCDWR=14, nRP=14, nRAS=34, nRC=48, nWR=16,
               nRTPL=6, nCCDS=1, nCCDL=2, nRRDS=4, nRRDL=6, nWTRS=6, nWTRL=8, nFAW=30,
               nRFC=260, nREFI=3900, nBL=4)
PLUGINS = []
import os  # noqa: E402

if os.environ.get("RAM2_CMD_TRACE"):
    PLUGINS.append(ramulator.controller_plugin.CmdTraceRecorder(path=os.environ["RAM2_CMD_TRACE"]))

frontend = ramulator.frontend.External(clock_ratio=1)
dram = ramulator.dram.HBM2(org_preset="HBM2_8Gb", timing_preset="HBM2_2000Mbps",
                           channel_width=128, row=32768, column=64, **TIMINGS)
ctrl = ramulator.controller.HBM12(
    dram=dram, scheduler=ramulator.scheduler.FRFCFS(),
    refresh_manager=ramulator.refresh_manager.AllBank(scatter_interval=1950),
    row_policy=ramulator.row_policy.Open(),
    addr_mapper=ramulator.addr_mapper.RoBaRaCoCh(),
    read_buffer_size=32, write_buffer_size=32, wr_high_watermark=0.72, wr_low_watermark=0.27,
    controller_plugins=PLUGINS)
mem = ramulator.memory_system.GenericDRAM(
    clock_ratio=1, controllers=[ctrl] * 32,
    channel_mapper=ramulator.channel_mapper.CacheLineInterleave(interleave_bits=4))
sim = ramulator.Simulation(frontend, mem)
