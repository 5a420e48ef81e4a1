"""Programmes: a province's smart-city scheme as data — phases, component projects, budget and disbursement.

The 2020 Long An scheme (pilot in Tân An 2020–2025, rollout to Bến Lức, Đức Hòa, Cần Đước, Cần Giuộc 2025–2030,
500 bn VND planned) is the demo; a province enters its own by hand or imports it as JSON. Progress reaches the
IOC as indicators (disbursement rate, share of projects completed), so it rolls up like any other series.
"""
