"""Insights: influence graph, CLV and CRV, participation inequality, research panels and surveys."""
