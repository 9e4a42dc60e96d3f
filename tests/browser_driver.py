"""Drives the DynRefer page in headless Chromium (selenium + Debian's chromium-driver).

    python tests/browser_driver.py URL --box "x1 y1 x2 y2" [--expression TEXT] [--screenshot PNG]

Runs as a subprocess of the browser test (outside the test process's network guard, like the
server). Waits for the page, replaces the boxes with ``--box``, optionally grounds an
expression, and prints one JSON object: ``text`` (the page's visible text) and ``regions`` (how
many "Region i" blocks it shows). Exit status 1 with the reason on a timeout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

TIMEOUT = 120.0


def wait_for(driver, condition, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition(driver)
        except Exception:  # noqa: BLE001  (the page is still being rebuilt)
            value = None
        if value:
            return value
        time.sleep(0.5)
    sys.stderr.write(f"timed out waiting for {what}; page text:\n"
                     f"{driver.find_element(By.TAG_NAME, 'body').text[:2000]}\n")
    sys.exit(1)


def settled(driver) -> bool:
    """No Streamlit script run in progress (its status widget says 'Running')."""
    return not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--box", required=True, help="box lines to type (newline-separated)")
    parser.add_argument("--expression")
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        driver.get(args.url)
        area = wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "textarea"), "the boxes")
        wait_for(driver, lambda d: "Region 5" in d.find_element(By.TAG_NAME, "body").text,
                 "the shipped scene's regions")
        area.send_keys(Keys.CONTROL, "a")
        area.send_keys(Keys.DELETE)
        area.send_keys(args.box)
        area.send_keys(Keys.CONTROL, Keys.ENTER)  # Streamlit commits a text area on Ctrl+Enter
        count = len([line for line in args.box.splitlines() if line.strip()])
        wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "body").text.count("Region ")
                 == count and settled(d), f"the typed boxes' {count} region(s)")
        if args.expression:
            field = driver.find_element(By.CSS_SELECTOR, 'input[type="text"]')
            field.send_keys(args.expression, Keys.ENTER)
            wait_for(driver, lambda d: repr(args.expression) in d.find_element(
                By.TAG_NAME, "body").text and settled(d), "the grounding answer")
        time.sleep(1.0)  # images finish loading
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
        text = driver.find_element(By.TAG_NAME, "body").text
        print(json.dumps({"text": text, "regions": text.count("Region ")}))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
