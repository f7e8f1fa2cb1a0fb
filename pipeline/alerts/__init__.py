"""Alert e-mails on high-risk mentions: immediate, digest and surge alerts, each sent once and never lost.

    rules.py         which flagged mentions alert now or in the digest, and who receives them (pure)
    excerpt.py       short, redacted excerpts for e-mails (pure)
    emails.py        subjects and bodies from templates/ (HTML auto-escaped), the MIME message
    outbox.py        AlertOutbox: the durable outbox in Elasticsearch (create-once, conditional updates)
    flood.py         FloodControl: at most N immediate alerts per recipient per hour
    digest.py        DigestComposer: one digest per recipient per period, with the flood overflow
    surge.py         SurgeMonitor: mentions far above their baseline -> one surge alert
    smtp_sender.py   SmtpAlertSender: SMTP with STARTTLS/implicit TLS and AUTH
    delivery.py      OutboxDeliverer: claim, send, record; retries with backoff; 5xx recorded as failed
    service.py       AlertService: the above wired together for the worker and the CLI
    mail_catcher.py  MailCatcher: local SMTP server writing .eml files (demo and tests)
    commands.py      ``ims-monitor alerts ...``
    demo.py          DemoMail: the demo's mail catcher and its report of the e-mails HR got

In the worker (``alerts.enabled``), ``agents/alert_mentions.py`` feeds classified mentions to the service and
runs delivery and evaluation on timers, in executor threads.
"""
