from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "kith.mail"
    label = "mail"
    verbose_name = "E-mail from Kith"
