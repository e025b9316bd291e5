"""Locust users for bench/load.py: learners re-saving their ranked choices, and officers
opening the round's results page. Run through bench/load.py (it seeds, serves and reports)."""

from __future__ import annotations

import os
import random
import re

from locust import HttpUser, between, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "placements-demo")
LEARNERS = [e for e in os.environ.get("LOAD_LEARNERS", "").split(",") if e]
OFFICER = os.environ.get("LOAD_OFFICER", "officer@demo.placements.test")
ROUND_ID = os.environ.get("LOAD_ROUND_ID", "1")

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
ORDER = re.compile(r'name="order"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="order"')


def _first(match: re.Match | None) -> str | None:
    return None if match is None else next(g for g in match.groups() if g)


class SignedIn(HttpUser):
    abstract = True
    wait_time = between(0.5, 1.5)
    email = ""

    def on_start(self) -> None:
        page = self.client.get("/auth/login", name="sign in page")
        token = _first(TOKEN.search(page.text))
        with self.client.post("/auth/login", name="sign in", allow_redirects=False,
                              data={"email": self.email, "password": PASSWORD,
                                    "csrf_token": token}, catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"sign-in refused: {response.status_code}")


class Learner(SignedIn):
    """Opens the choices page and saves the list in a new order."""

    weight = 4

    def on_start(self) -> None:
        self.email = random.choice(LEARNERS)
        super().on_start()

    @task
    def save_choices(self) -> None:
        url = f"/learner/rounds/{ROUND_ID}/choices"
        page = self.client.get(url, name="choices page")
        token = _first(TOKEN.search(page.text or ""))
        if page.status_code != 200 or token is None:
            return  # counted as the page's error; saving without the form would be a 400
        order = [_first(m) for m in ORDER.finditer(page.text)]
        random.shuffle(order)
        with self.client.post(url, name="save choices", allow_redirects=False,
                              data={"order": order, "csrf_token": token},
                              catch_response=True) as response:
            if response.status_code != 303:
                response.failure(f"save refused: {response.status_code}")


class Officer(SignedIn):
    """Opens the round's results (placements) page."""

    weight = 1
    email = OFFICER

    @task
    def results(self) -> None:
        self.client.get(f"/officer/rounds/{ROUND_ID}/placements", name="results page")
