using System.Text.Json;
using Microsoft.Playwright;
using Xunit;

namespace Gpuckpt.Load.Tests.Reports;

/// <summary>The HTML report as a person opens it: Debian's Chromium, headless, through Playwright.</summary>
[Collection(SmokeCollection.Name)]
[Trait("Tier", "Full")]
public sealed class HtmlReportSpecs(SmokeRun smoke)
{
    private const string Chromium = "/usr/bin/chromium";

    // Each plot's pixels: its natural and shown size, and how many are the first series' colour (Category10 blue).
    private const string Pixels = """
        async () => {
          const plots = [];
          for (const img of document.querySelectorAll('img.plot')) {
            await img.decode();
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const g = canvas.getContext('2d');
            g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
            const colours = new Set();
            let series = 0;
            for (let i = 0; i < d.length; i += 4) {
              colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
              if (d[i] === 0x1f && d[i + 1] === 0x77 && d[i + 2] === 0xb4) series++;
            }
            const box = img.getBoundingClientRect();
            plots.push({ kind: img.dataset.plot, width: img.naturalWidth, height: img.naturalHeight, shown: box.width * box.height, colours: colours.size, series });
          }
          return plots;
        }
        """;

    [Fact]
    public async Task Every_plot_of_the_report_shows_in_chromium_with_its_data_drawn()
    {
        var first = await PlotsOf(Path.Combine(smoke.FirstDir, "report.html"), Path.Combine(smoke.Reports, "report.png"));
        Assert.Equal(["throughput", "bandwidth", "latency", "pauses", "raw"], first.Select(p => p.GetProperty("kind").GetString()));
        var second = await PlotsOf(Path.Combine(smoke.SecondDir, "report.html"), null);
        Assert.Contains("compare", second.Select(p => p.GetProperty("kind").GetString()));
        foreach (var plot in first.Concat(second))
        {
            var text = plot.ToString();
            Assert.True(plot.GetProperty("width").GetInt32() == 900 && plot.GetProperty("height").GetInt32() == 360, text);
            Assert.True(plot.GetProperty("shown").GetDouble() >= 900 * 360 * 0.9, text);
            Assert.True(plot.GetProperty("colours").GetInt32() > 16, text);
            Assert.True(plot.GetProperty("series").GetInt32() > 50, text);
        }
    }

    private static async Task<IReadOnlyList<JsonElement>> PlotsOf(string html, string? screenshot)
    {
        Assert.True(File.Exists(html), $"{html} was not written");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        await page.GotoAsync(new Uri(html).AbsoluteUri);
        var plots = await page.EvaluateAsync<JsonElement>(Pixels);
        if (screenshot is not null) await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        return [.. plots.EnumerateArray()];
    }
}
