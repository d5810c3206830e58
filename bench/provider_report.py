"""The figures every provider sync benchmark prints (Google, Graph, EWS), in one format:
initial import, 10 changes made in the provider's own program, and an idle poll."""

from __future__ import annotations


def print_sync_figures(title: str, requests: str, figures: dict[str, float]) -> None:
    """``requests``: what the provider's requests are called (API, Graph, EWS)."""
    rate = figures["import_published"] / figures["import_s"]
    print(f"\n{title}")
    print(
        f"  initial import  {figures['import_s']:8.2f} s   {figures['import_published']:.0f} "
        f"items, {figures['import_requests']:.0f} {requests} requests, {rate:.0f} items/s"
    )
    print(
        f"  10 changes      {figures['incremental_s']:8.3f} s   "
        f"{figures['incremental_requests']:.0f} requests, "
        f"{figures['incremental_published']:.0f} published"
    )
    idle = figures["idle_requests"]
    print(f"  idle poll       {figures['idle_s']:8.3f} s   {idle:.0f} request{'s' * (idle != 1)}")
