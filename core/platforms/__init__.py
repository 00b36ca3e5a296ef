"""Adapters to the outside world (platform clients, proxies); nothing above sees a library exception."""
