"""Named DCQCN profiles: sets of defaults for the congestion-control keys of FabricConfig.

``FabricConfig.dcqcn_profile`` picks one; any of the keys below given
explicitly (TOML, sweep override or Python argument) wins over the profile's
value. The resolved values are what ``config show`` prints and what a run's
``config.toml`` records.

Values are given for 100G ports; with ``scale_with_rate`` the ECN thresholds
and the increase steps scale with each port's rate, whatever the profile.

- ``"connectx"`` (default): NVIDIA's documented DCQCN firmware defaults of
  ConnectX-4 and later adapters (the ROCE_CC / ECN parameters of ``mlxconfig``
  and the mlx5 ``ecn`` sysfs/debugfs knobs; NVIDIA "DCQCN parameters"
  documentation; docs/explanation/dcqcn.md): dce_tcp_g 1019 (alpha <- (1019 alpha +
  5 x CNP) / 1024, so g = 5/1024), dce_tcp_rtt 1 us (one alpha update per
  1 us window), initial_alpha_value 1023 (alpha 1023/1024),
  rate_reduce_monitor_period 4 us, rpg_gd 11 (cut by alpha x Rc / 2^11 with
  alpha in 1/1024 units: Rc (1 - alpha/2)), rpg_min_dec_fac 50 %,
  rpg_ai_rate 5 Mb/s, rpg_hai_rate 50 Mb/s, rpg_time_reset 300 us,
  rpg_byte_reset 32767 bytes, rpg_threshold 1 (F), rpg_min_rate 1 Mb/s,
  rpg_max_rate 0 (line rate), clamp_tgt_rate 0 and
  clamp_tgt_rate_after_time_inc 1, min_time_between_cnps 4 us (CNP pacing at
  the notification point). initial_alpha_value is documented as the alpha a
  flow gets at its first CNP, and a flow back at
  rpg_max_rate (0: port speed) releases its rate limiter, so alpha starts at
  1023/1024 at the first CNP of each congestion episode
  (``dcqcn_alpha_at_first_cnp``). Not modelled: rate_to_set_on_first_cnp (default 0,
  off). The switch's ECN thresholds are not NIC firmware: they stay those of
  the ``hpcc`` profile.
- ``"hpcc"``: the package defaults before the connectx profile, as HPCC's
  ns-3 simulator (and SimAI, which builds on it) sets DCQCN
  (docs/explanation/fabric.md): g = 1/256, R_AI 20 Mb/s, R_HAI 200 Mb/s, alpha update 1 us,
  rate-decrease interval 4 us, increase timer 300 us, byte counter 10 MiB and
  F = 5 per the DCQCN paper, one CNP per flow per 50 us.
- ``"paper"``: the DCQCN paper (Zhu et al., SIGCOMM 2015, Table 1 and
  section 5): alpha update and increase timer 55 us, R_AI 40 Mb/s, byte
  counter 10 MiB, g = 1/256, ECN Kmin 5 KB / Kmax 200 KB / Pmax 1 % at 40G,
  here scaled x 2.5 to 100G (12.5 KB, 500 KB); the rest as "hpcc". This is
  what ``configs/dcqcn_paper.toml`` held before profiles existed.
"""

from __future__ import annotations

from typing import Any

_HPCC: dict[str, Any] = {
    "cnp_interval_us": 50.0,
    "ecn_kmin_bytes": 400_000,
    "ecn_kmax_bytes": 1_600_000,
    "ecn_pmax": 0.2,
    "dcqcn_g": 1 / 256,
    "dcqcn_rai_mbps": 20.0,
    "dcqcn_rhai_mbps": 200.0,
    "dcqcn_alpha_update_us": 1.0,
    "dcqcn_rate_decrease_interval_us": 4.0,
    "dcqcn_increase_timer_us": 300.0,
    "dcqcn_byte_counter_bytes": 10 * 2**20,
    "dcqcn_fast_recovery_stages": 5,
    "dcqcn_min_rate_mbps": 100.0,
    "dcqcn_initial_alpha": 1.0,
    "dcqcn_min_decrease_factor": 0.0,
    "dcqcn_alpha_per_window": False,
    "dcqcn_clamp_target_rate": True,
    "dcqcn_clamp_target_after_timer": False,
    "dcqcn_alpha_at_first_cnp": False,
}

PROFILES: dict[str, dict[str, Any]] = {
    "connectx": {
        **_HPCC,
        "cnp_interval_us": 4.0,  # min_time_between_cnps
        "dcqcn_g": 5 / 1024,  # dce_tcp_g = 1019: alpha <- (1019 alpha + 5 cnp) / 1024
        "dcqcn_rai_mbps": 5.0,  # rpg_ai_rate
        "dcqcn_rhai_mbps": 50.0,  # rpg_hai_rate
        "dcqcn_alpha_update_us": 1.0,  # dce_tcp_rtt
        "dcqcn_rate_decrease_interval_us": 4.0,  # rate_reduce_monitor_period
        "dcqcn_increase_timer_us": 300.0,  # rpg_time_reset
        "dcqcn_byte_counter_bytes": 32767,  # rpg_byte_reset
        "dcqcn_fast_recovery_stages": 1,  # rpg_threshold
        "dcqcn_min_rate_mbps": 1.0,  # rpg_min_rate
        "dcqcn_initial_alpha": 1023 / 1024,  # initial_alpha_value
        "dcqcn_min_decrease_factor": 0.5,  # rpg_min_dec_fac = 50 %
        "dcqcn_alpha_per_window": True,  # alpha sampled once per dce_tcp_rtt window
        "dcqcn_clamp_target_rate": False,  # clamp_tgt_rate = 0
        "dcqcn_clamp_target_after_timer": True,  # clamp_tgt_rate_after_time_inc = 1
        "dcqcn_alpha_at_first_cnp": True,  # initial_alpha_value applies at the first CNP; rpg_max_rate 0 releases
    },
    "hpcc": _HPCC,
    "paper": {
        **_HPCC,
        "ecn_kmin_bytes": 12_500,
        "ecn_kmax_bytes": 500_000,
        "ecn_pmax": 0.01,
        "dcqcn_alpha_update_us": 55.0,
        "dcqcn_increase_timer_us": 55.0,
        "dcqcn_rai_mbps": 40.0,
    },
}

DEFAULT_PROFILE = "connectx"

#: FabricConfig keys whose default comes from the profile.
PROFILE_KEYS: tuple[str, ...] = tuple(_HPCC)
