"""How-to: size a team with Erlang C, then check it by simulating the real router.

Run: python docs/examples/howto_simulate.py
"""

from pathlib import Path

from ccroute.sim import parse_scenario, replicate
from ccroute.wfm import staff_erlang_c

# 100 calls per 30 minutes, 3-minute handle time, 80% answered within 20 s.
plan = staff_erlang_c(100 / 1800, 180, service_level=(0.80, 20))
print(f"Erlang C: {plan.agents} agents, service level {plan.service_level:.1%}")

# The same centre as a scenario (examples/erlang_c.toml has 14 agents), run
# through the real router five times with different seeds.
text = (Path(__file__).parents[2] / "examples" / "erlang_c.toml").read_text()
scenario = parse_scenario(text, "erlang_c.toml")
runs = replicate(scenario, 5, seed=1)
levels = [run.measured.service_level() for run in runs]
print("simulated service level per run:", ", ".join(f"{level:.1%}" for level in levels))
assert plan.agents == 14
