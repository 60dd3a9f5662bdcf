"""The customer's pages: sign-up, my cases, my groups, my questions and ideas, my data (UI only, calling other apps' services)."""
